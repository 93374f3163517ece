// The built-in subcommands of `flux`, one file each.
#pragma once

namespace flux::cmd {

int start(int argc, char** argv);
int getattr(int argc, char** argv);
int setattr(int argc, char** argv);
int lsattr(int argc, char** argv);
int module(int argc, char** argv);
int ping(int argc, char** argv);
int dmesg(int argc, char** argv);
int overlay(int argc, char** argv);
int uptime(int argc, char** argv);
int shutdown(int argc, char** argv);
int version(int argc, char** argv);
int event(int argc, char** argv);
int exec(int argc, char** argv);
int logger(int argc, char** argv);
int resource(int argc, char** argv);
int submit(int argc, char** argv);
int run(int argc, char** argv);
int bulksubmit(int argc, char** argv);
int job(int argc, char** argv);
int cancel(int argc, char** argv);
int queue(int argc, char** argv);
int jobs(int argc, char** argv);
int pstree(int argc, char** argv);
int batch(int argc, char** argv);
int alloc(int argc, char** argv);
int uri(int argc, char** argv);
int proxy(int argc, char** argv);
int broker(int argc, char** argv);

}  // namespace flux::cmd
