lib 8
