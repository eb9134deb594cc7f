printf 'a\n' > 'a b.txt'; mkdir -p 'dir with space'; printf 'x\n' > 'dir with space/x y'; printf 'u\n' > 'ü.txt'
