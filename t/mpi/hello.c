/* MPI hello: each rank reports its rank and size; rank 0 checks that a
 * message goes around the ring so the ranks really talk to each other. */
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    int rank, size, token = -1;
    char host[256];
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gethostname(host, sizeof(host));
    if (size > 1) {
        if (rank == 0) {
            token = 42;
            MPI_Send(&token, 1, MPI_INT, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(&token, 1, MPI_INT, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(&token, 1, MPI_INT, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            token++;
            MPI_Send(&token, 1, MPI_INT, (rank + 1) % size, 0, MPI_COMM_WORLD);
        }
    }
    printf("hello from rank %d of %d\n", rank, size);
    if (rank == 0 && size > 1)
        printf("ring token %d (expected %d)\n", token, 42 + size - 1);
    MPI_Finalize();
    return 0;
}
