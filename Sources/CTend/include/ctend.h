#ifndef CTEND_H
#define CTEND_H
#endif
