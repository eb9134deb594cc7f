lib 9
