echo app 11
