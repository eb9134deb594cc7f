printf 'a\n' > a.txt; mkdir -p dir/s; printf 'x\n' > dir/s/x
