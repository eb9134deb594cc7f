mkdir -p t/sub
printf 'one\n' > t/one; printf 's\n' > t/sub/s
chmod 751 t; chmod 700 t/sub
tar --numeric-owner --owner=5 --group=6 --mtime=@1000000 -C t -cf dot.tar .
gzip -n -c dot.tar > dot.tar.gz
rm -rf t
