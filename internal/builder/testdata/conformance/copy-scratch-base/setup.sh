printf 'a\n' > a.txt; mkdir -p dir/e; printf 'x\n' > dir/x
