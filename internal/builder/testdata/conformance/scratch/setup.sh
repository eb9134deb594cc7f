mkdir -p files/bin; printf 'a\n' > files/a.txt; printf 'b\n' > files/bin/tool; chmod 755 files/bin/tool
