mkdir -p dir/sub
printf 'a\n' > dir/a.txt; printf 's\n' > dir/sub/s.txt
chmod 750 dir; chmod 701 dir/sub
