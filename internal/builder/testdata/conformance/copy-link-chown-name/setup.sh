printf 'a\n' > a
