mkdir -p files/sub files/empty
printf 'alpha\n' > files/a.txt; printf 'beta\n' > files/b.txt; printf '#!/bin/sh\necho run\n' > files/sub/run.sh
chmod 600 files/b.txt; chmod 755 files/sub/run.sh
ln files/a.txt files/hl.txt
ln -s a.txt files/link
chmod 555 files/sub
