#include "ctend.h"
