printf 'a\n' > a.txt; mkdir -p dir; printf 'x\n' > dir/x
