using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Kvm;

/// <summary>A plain memfd_create(2) file: not a guest_memfd, so KVM refuses to bind it.</summary>
public sealed class RegularMemfd;

/// <summary>The VMM process's file-descriptor table, so that ioctls taking an fd number behave as in the kernel.</summary>
public sealed class FdTable
{
    private readonly Dictionary<int, object> open = [];
    private int next = 3;

    public int Add(object file)
    {
        lock (open)
        {
            int fd = next++;
            open[fd] = file;
            return fd;
        }
    }

    /// <summary>The open file behind <paramref name="fd"/>; EBADF when the number is not open.</summary>
    public object Get(int fd)
    {
        lock (open)
        {
            return open.TryGetValue(fd, out var file) ? file : throw new KvmException(Errno.EBADF, $"fd {fd} is not open");
        }
    }

    public T Get<T>(int fd)
        where T : class =>
        Get(fd) as T ?? throw new KvmException(Errno.EINVAL, $"fd {fd} is not a {typeof(T).Name}");

    public void Close(int fd)
    {
        object file;
        lock (open)
        {
            if (!open.Remove(fd, out file!))
            {
                throw new KvmException(Errno.EBADF, $"fd {fd} is not open");
            }
        }

        (file as Memory.GuestMemfd)?.Close();
    }

    /// <summary>memfd_create(2).</summary>
    public int OpenMemfd() => Add(new RegularMemfd());
}
