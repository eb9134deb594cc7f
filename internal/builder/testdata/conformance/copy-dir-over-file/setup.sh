mkdir -p dir; printf 'x\n' > dir/x
