printf 'a\n' > a.txt; printf '#!/bin/sh\n' > run.sh; chmod 755 run.sh; mkdir -p dir/sub; printf 'x\n' > dir/sub/x; chmod 700 dir/sub
