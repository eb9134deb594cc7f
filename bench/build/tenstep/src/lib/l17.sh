lib 17
