mkdir -p dir/sub
printf 'a\n' > a.txt; printf 'd\n' > dir/d.txt; printf 's\n' > dir/sub/s.txt
