mkdir files; printf 'o\n' > files/only.txt
