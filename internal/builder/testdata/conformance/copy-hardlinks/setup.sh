mkdir -p files/sub; printf 'one\n' > files/one; ln files/one files/two; ln files/one files/sub/three; printf 'x\n' > files/x
