mkdir -p dir
printf 'f\n' > dir/f; printf 'g\n' > dir/g
