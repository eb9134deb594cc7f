mkdir -p etc/new usr/local/bin; printf 'n\n' > etc/new/conf; printf 'h\n' > etc/hostname.extra; printf '#!/bin/sh\n' > usr/local/bin/tool; chmod 755 usr/local/bin/tool
