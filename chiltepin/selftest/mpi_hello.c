/* MPI hello: each rank prints its rank, the world size and the node it runs on.
 *
 * On the single-host Slurm cluster every fake node is the same host, and MPICH's Hydra
 * copies mpiexec's environment (SLURMD_NODENAME included) to every rank. The rank's
 * parent, Hydra's per-node proxy, was started by slurmd as a job step on its own node, so
 * its environment names the node truthfully: read SLURMD_NODENAME from there, and fall back
 * to the processor name off Slurm. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int parent_slurm_node(char *out, size_t size) {
    char path[64], buf[65536];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)getppid());
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
        if (strncmp(buf + i, "SLURMD_NODENAME=", 16) == 0) {
            snprintf(out, size, "%s", buf + i + 16);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    int rank, size, len;
    char node[MPI_MAX_PROCESSOR_NAME];
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (!parent_slurm_node(node, sizeof node)) MPI_Get_processor_name(node, &len);
    printf("rank %d of %d on %s\n", rank, size, node);
    MPI_Finalize();
    return 0;
}
