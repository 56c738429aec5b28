// cc flags: -gbtf
// A BTF of kernel types that are not this kernel's, for the --co-re cases (RTRACE_BTF names
// this binary): task_struct's members at made-up offsets, one of them a member no kernel has.
// An object compiled against it reads the right values only if libbpf relocates every access.
struct task_struct {
	int tgid;
	int rtrace_no_such_member;
	char comm[16];
	struct task_struct *real_parent;
};

struct task_struct *keep;

int main(void)
{
	return keep != 0;
}
