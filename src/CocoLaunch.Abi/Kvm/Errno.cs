namespace CocoLaunch.Abi.Kvm;

/// <summary>Linux errno values (x86-64, <c>asm-generic/errno*.h</c>): the error currency of every KVM ioctl.</summary>
public enum Errno
{
    EPERM = 1,
    ENOENT = 2,
    ENOEXEC = 8,
    EINTR = 4,
    EIO = 5,
    E2BIG = 7,
    EBADF = 9,
    EAGAIN = 11,
    ENOMEM = 12,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    ENOTTY = 25,
    ESPIPE = 29,
    EOPNOTSUPP = 95,
    EHWPOISON = 133,
}

/// <summary>An ioctl or file operation that failed: the model's equivalent of "returned −1 with errno set".</summary>
public sealed class KvmException(Errno errno, string detail) : Exception($"{errno}: {detail}")
{
    public Errno Errno { get; } = errno;

    public string Detail { get; } = detail;
}
