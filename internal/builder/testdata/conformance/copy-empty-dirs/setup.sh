mkdir -p emptydir tree/e1 tree/sub/e2 tree/sub/e3/e4
chmod 700 tree/e1
printf 'f\n' > tree/sub/f
