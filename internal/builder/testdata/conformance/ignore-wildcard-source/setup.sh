printf 'a\n' > a.txt; printf 'b\n' > b.txt; printf 'b.txt\n' > .dockerignore
