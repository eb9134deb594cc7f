mkdir -p files t/top/dir
printf 'one\n' > t/top/one; printf 'two\n' > t/top/dir/two; ln -s one t/top/sl
chmod 640 t/top/one
tar --numeric-owner --owner=1000 --group=1000 --mtime=@1000000 -C t -cf files/a.tar top
xz -c files/a.tar > files/a.tar.xz
bzip2 -c files/a.tar > files/a.tar.bz2
gzip -n -c files/a.tar > files/a.tar.gz
xz -c files/a.tar > files/xz-no-suffix
cp files/a.tar files/tar-no-suffix
rm -rf t
