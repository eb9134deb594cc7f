printf 'a\n' > a.txt; mkdir -p dir/sub; printf 'x\n' > dir/sub/x
