// clock.h — monotonic time in seconds.
#ifndef BERRY_CLOCK_H
#define BERRY_CLOCK_H
double berry_now(void);
#endif
