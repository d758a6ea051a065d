#ifndef RUNNEL_CROCKSDB_SHIM_H
#define RUNNEL_CROCKSDB_SHIM_H
#include <rocksdb/c.h>
#endif
