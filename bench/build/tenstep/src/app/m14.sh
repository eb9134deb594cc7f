echo app 14
