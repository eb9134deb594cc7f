lib 19
