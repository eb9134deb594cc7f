mkdir -p files t/top/dir
printf 'one\n' > t/top/one; printf 'two\n' > t/top/dir/two; ln -s one t/top/sl; ln t/top/one t/top/hl
chmod 640 t/top/one; chmod 711 t/top/dir
tar --numeric-owner --owner=1000 --group=1000 --mtime=@1000000 -C t -cf files/arch.tar top
gzip -n -c files/arch.tar > files/arch.tar.gz
printf 'plain\n' > files/plain.txt
printf 'not really gzip' > files/notatar.gz
rm -rf t
