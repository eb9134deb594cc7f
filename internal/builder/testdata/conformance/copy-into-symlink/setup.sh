mkdir -p files; printf 'a\n' > files/a.txt
