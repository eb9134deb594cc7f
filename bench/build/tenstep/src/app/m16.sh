echo app 16
