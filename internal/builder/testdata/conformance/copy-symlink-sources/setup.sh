mkdir -p files/d; printf 'a\n' > files/a; printf 'x\n' > files/d/x; ln -s a files/tolink; ln -s d files/todir; ln -s /files/a files/abslink; ln -s missing files/dangling
