echo app 19
