mkdir -p dir/d
printf 'x\n' > dir/d/x
