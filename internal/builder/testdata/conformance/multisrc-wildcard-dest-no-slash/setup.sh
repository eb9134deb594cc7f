echo a > a.txt; echo b > b.txt; echo one > one.md
