lib 13
