/*  osmose_error.h: self-test of the error table (the API is in osmose.h). */
#ifndef OSMOSE_ERROR_H_INCLUDED
#define OSMOSE_ERROR_H_INCLUDED
OSMOSE_SELFTEST (osmose_error)
#endif
