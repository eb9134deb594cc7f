lib 16
