printf 'a\n' > a.txt
