mkdir -p files t/top/dir d/sub
printf 'one\n' > t/top/one; printf 'two\n' > t/top/dir/two; ln -s one t/top/sl; ln t/top/one t/top/hl
chmod 640 t/top/one; chmod 711 t/top/dir
tar --numeric-owner --owner=1000 --group=1000 --mtime=@1000000 -C t -cf files/arch.tar top
gzip -n -c files/arch.tar > files/arch.tar.gz
printf 'one\n' > d/one; printf 's\n' > d/sub/s; chmod 751 d; chmod 700 d/sub
tar --numeric-owner --owner=5 --group=6 --mtime=@1000000 -C d -cf files/dot.tar .
rm -rf t d
