#ifndef PUSHY_CZMQ_SHIM_H
#define PUSHY_CZMQ_SHIM_H
#include <zmq.h>
#ifdef __linux__
#include <sys/eventfd.h>
#include <sys/epoll.h>
#endif
#endif
