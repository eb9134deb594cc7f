echo a > a.txt; mkdir dir; echo b > dir/b
