mkdir -p files/sub
printf 'a\n' > files/a.txt; printf 's\n' > files/sub/s.txt; chmod 700 files/sub
