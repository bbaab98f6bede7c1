// Measures server-side RSS per libzmq connection: ROUTER (plain/CURVE, with or without a ZAP
// handler) and PUB (with or without a ZAP domain). Build: gcc zmq-conn-memory.c -lzmq -lpthread
// Run a server and a client in two shells, e.g. ./a.out server pub 0 1 36004 / ./a.out client pub 0 2000 36004
// usage: mem server <type:router|pub> <curve 0/1> <zapdomain 0/1> port  | mem client <type> <curve> n port
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static long rss(){ FILE*f=fopen("/proc/self/status","r"); char l[256]; long v=0; while(fgets(l,256,f)) if(!strncmp(l,"VmRSS:",6)) v=atol(l+6); fclose(f); return v;}
static char spub[41], ssec[41];
static void *zap_thread(void*ctx){ void*z=zmq_socket(ctx,ZMQ_REP); zmq_bind(z,"inproc://zeromq.zap.01");
  while(1){ zmq_msg_t m; char req[8][256]; int n=0; int more=1; while(more){ zmq_msg_init(&m); if(zmq_msg_recv(&m,z,0)<0) return 0; if(n<8){int s=zmq_msg_size(&m); memcpy(req[n],zmq_msg_data(&m),s<255?s:255); req[n][s<255?s:255]=0;} n++; more=zmq_msg_more(&m); zmq_msg_close(&m);} 
    zmq_send(z,"1.0",3,ZMQ_SNDMORE); zmq_send(z,req[1],strlen(req[1]),ZMQ_SNDMORE); zmq_send(z,"200",3,ZMQ_SNDMORE); zmq_send(z,"OK",2,ZMQ_SNDMORE); zmq_send(z,"",0,ZMQ_SNDMORE); zmq_send(z,"",0,0);} }
#include <pthread.h>
int main(int c,char**v){
  void*ctx=zmq_ctx_new(); zmq_ctx_set(ctx,ZMQ_MAX_SOCKETS,20000);
  int router=!strcmp(v[2],"router"); int curve=atoi(v[3]);
  const char* sp="v->7W0-^XVWlA)T?NZo)&ngl5o{oz}mqbSKMD8=h"; const char* ss="WAiu[5-#ci3Oy[m(ll>mb@y=2QGiQGj<p65xA%ma";
  const char* cp="a:>+ceJ!GvVYP>5eV]=:ud%5G]ADw#ZFy8KN#[Wn"; const char* cs="l/*+EBXR>0(IDf>>BSG#oEUsXof=dschEwtw+Cl%";
  if(!strcmp(v[1],"server")){
    int zap=atoi(v[4]); pthread_t t; if(zap){ pthread_create(&t,0,zap_thread,ctx); usleep(100000);} 
    void*s=zmq_socket(ctx,router?ZMQ_ROUTER:ZMQ_PUB); int one=1;
    if(curve){ zmq_setsockopt(s,ZMQ_CURVE_SERVER,&one,4); zmq_setsockopt(s,ZMQ_CURVE_SECRETKEY,ss,40);} 
    if(zap) zmq_setsockopt(s,ZMQ_ZAP_DOMAIN,"x",1);
    char ep[64]; sprintf(ep,"tcp://127.0.0.1:%s",v[5]); zmq_bind(s,ep);
    long base=rss(); printf("base %ld KB\n",base); fflush(stdout);
    for(int i=0;i<40;i++){ zmq_pollitem_t it={s,0,ZMQ_POLLIN,0}; zmq_poll(&it,1,500); if(it.revents){ char b[256]; while(zmq_recv(s,b,256,ZMQ_DONTWAIT)>=0);} if(!router) zmq_send(s,"hb",2,ZMQ_DONTWAIT);} 
    printf("after %ld KB\n",rss()); fflush(stdout); sleep(1000);
  } else {
    int n=atoi(v[4]); char ep[64]; sprintf(ep,"tcp://127.0.0.1:%s",v[5]);
    for(int i=0;i<n;i++){ void*s=zmq_socket(ctx,router?ZMQ_DEALER:ZMQ_SUB);
      if(curve){ zmq_setsockopt(s,ZMQ_CURVE_SERVERKEY,sp,40); zmq_setsockopt(s,ZMQ_CURVE_PUBLICKEY,cp,40); zmq_setsockopt(s,ZMQ_CURVE_SECRETKEY,cs,40);} 
      if(!router) zmq_setsockopt(s,ZMQ_SUBSCRIBE,"",0);
      zmq_connect(s,ep); if(router) zmq_send(s,"hello",5,ZMQ_DONTWAIT);} 
    sleep(1000);
  }
}
