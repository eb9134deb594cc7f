mkdir -p files/sub; printf 'a\n' > files/a.txt; printf 's\n' > files/sub/s; ln -s a.txt files/link
