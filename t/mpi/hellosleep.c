/* MPI hello-and-sleep, for the hierarchy tutorial test: every rank says
 * hello with the size it sees, all sleep SECONDS (argv[1], default 5) so
 * the job is seen running, and a barrier proves the ranks still talk. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    int rank, size;
    char host[256];
    unsigned secs = argc > 1 ? (unsigned)atoi(argv[1]) : 5;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gethostname(host, sizeof(host));
    printf("hello from rank %d of %d on %s\n", rank, size, host);
    fflush(stdout);
    sleep(secs);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        printf("all %d ranks done after %u s\n", size, secs);
    MPI_Finalize();
    return 0;
}
